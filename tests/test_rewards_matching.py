import pytest

from stepgrpo.rewards import key_step_groups, match_key_step, matched_key_steps
from stepgrpo.rewards.normalize import normalize, tokenize

MATCH_CASES = [
    # numbers at token boundaries, compared by value
    ("There are 13 apples.", ["3"], False),
    ("So x = 3.5 here", ["x = 3"], False),
    ("So x = 3 here", ["x = 3"], True),
    ("so x = 3.", ["x = 3"], True),
    ("x = 3.0", ["x = 3"], True),
    ("AE = 0.5 AD", ["AE=1/2AD"], True),
    ("AE = \\frac{1}{2} AD", ["AE = 0.5 AD"], True),
    ("AE = \\dfrac{1}{2}AD", ["AE=1/2AD"], True),
    ("\\frac{12}{2} = 6", ["12/2 = 6"], True),
    ("frac{12}{2} = 6", ["12/2 = 6"], True),
    ("12 / 2 = 6", ["12/2=6"], True),
    ("12 ÷ 2 = 6", ["12/2=6"], True),
    ("9/3 = 3", ["6/2 = 3"], False),
    ("6/2 = 3", ["9/3 = 3"], False),
    ("AE = 1/2 AD", ["AE = 2/4 AD"], False),  # two written fractions compare as written
    ("AE = 1/2 AD", ["AE = 0.5 AD"], True),  # a written fraction equals a plain number of its value
    ("x = \\frac{6}{2}", ["x = 3"], True),
    ("3 × 4 = 12", ["3 \\times 4 = 12"], True),
    ("3 \\cdot 4 = 12", ["3*4=12"], True),
    ("5 − 2 = 3", ["5 - 2 = 3"], True),
    ("√16 = 4", ["\\sqrt{16} = 4"], True),
    ("area = πr^2", ["area = \\pi r^2"], True),
    ("angle ABC = 45°", ["\\angle ABC = 45^\\circ"], True),
    ("∠ABC = 45^{\\circ}", ["angle ABC = 45°"], True),
    ("it rose by 25\\%", ["25%"], True),
    ("$\\left(3+4\\right) \\times 2 = 14$", ["(3 + 4) * 2 = 14"], True),
    ("The total is 1,234 dollars", ["1234"], True),
    ("The total is 1234 dollars", ["1,234"], True),
    ("the points (1,2) and (3,4)", ["12"], False),
    ("**Step**: A = 4", ["A = 4"], True),
    # variables must be the same
    ("so AC = 5", ["AB=5"], False),
    ("so AB = 5", ["AB=5"], True),
    ("so AB = 50", ["AB=5"], False),
    # wording may vary (fuzzy tier), values may not
    ("Since AD is the median of the triangle", ["AD is a median"], True),
    ("so AE is half the length of AD", ["AE is half of AD"], True),
    ("the triangle is isoceles", ["the triangle is isosceles"], True),
    ("the total of the bars is 17", ["total is 17"], True),
    ("The probability is 0.57", ["probability is 0.75"], False),
    ("the total of the bars is 71", ["total is 17"], False),
    ("so AC is the hypotenuse", ["AB is the hypotenuse"], False),
    ("the triangle is not isosceles", ["the triangle is isosceles"], False),
    ("median is AD", ["AD is a median"], False),
    ("the sum is 11", ["sum = 11"], False),
    # a number matches only the same value: sign, continuations and juxtaposition (issue 11)
    ("so y = -5", ["y = 5"], False), ("the gradient is −3", ["gradient is 3"], False),
    ("BC = 4^3", ["BC = 4"], False), ("BC = 4!", ["BC = 4"], False), ("BC = 40%", ["BC = 40"], False),
    ("BC = 4e2", ["BC = 4"], False), ("BC = 4π", ["BC = 4"], False), ("BC = 4√3", ["BC = 4"], False),
    ("BC = 4.2", ["BC = 4"], False), ("3y = 9", ["y = 9"], False), ("BC = 4y", ["BC = 4"], False),
    ("BC = 4 m", ["BC = 4"], True), ("BC = 4.", ["BC = 4"], True),
    # equivalent notations match
    ("p = 25%", ["p = 0.25"], True), ("p = 0.25", ["p = 25\\%"], True), ("n = 2 × 10^3", ["n = 2000"], True),
    ("n = 2e3", ["n = 2 \\times 10^{3}"], True), ("y = x³", ["y = x^3"], True), ("¼ of it", ["1/4 of it"], True),
    ("10⁵ cells", ["10^5 cells"], True), ("EF ⊥ GH", ["EF \\perp GH"], True), ("EF ∥ GH", ["EF parallel GH"], True),
    ("angle B = 30 degrees", ["angle B = 30^\\circ"], True), ("the side is 7 meters", ["side is 7 m"], True),
    ("area = 9 cm^2", ["area = 9 square centimeters"], True), ("\\sin\\alpha = 0.5", ["sin α = 1/2"], True),
    ("x = \\frac34", ["x = 3/4"], True),
    # a quantity given several values matches none of its key steps
    ("CD = 3, CD = 4, CD = 5", ["CD = 4"], False), ("the sum is 9. the sum is 10.", ["sum is 10"], False),
    # alternatives: any one suffices
    ("AE is half of AD", ["AE=1/2AD", "AE is half of AD"], True),
    ("nothing relevant", ["AE=1/2AD", "AE is half of AD"], False),
    ("", ["x = 1"], False),
    ("x = 1", [""], False),
]


@pytest.mark.parametrize(("text", "alternatives", "expected"), MATCH_CASES)
def test_match_key_step_table(text, alternatives, expected):
    assert match_key_step(text, alternatives) is expected


def test_key_step_layouts():
    assert key_step_groups({"Steps": [["a", "b"], "c"]}) == [["a", "b"], ["c"]]
    assert key_step_groups(["c", ["", "d"], []]) == [["c"], ["d"]]
    assert key_step_groups(None) == []
    assert matched_key_steps("A = 4 and B = 7", [["A = 4"], ["B = 8", "B is 8"], "B = 7"]) == [True, False, True]


def test_normalisation_is_shared():
    assert normalize("  X × Y ") == "x * y"
    assert tokenize("\\frac{1}{2}") == tokenize("0.5") == tokenize("1/2")
    assert tokenize("3") != tokenize("3.5")
