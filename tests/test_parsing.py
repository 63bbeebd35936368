import pytest

from stepgrpo.parsing import R1VL, THINK, ReasoningFormat, get_format, header, register_format

CANONICAL = (
    "### Image Description:\nA bar chart.\n### Rationales:\nAdd the bars.\n"
    "### Let's think step by step.\n### Step 1:\nA = 4\n### Step 2:\n4 + 7 = 11\n"
    "### The final answer is: 11"
)


def kinds(text, fmt=R1VL):
    return [(s.kind, s.number) for s in fmt.parse(text).sections]


def test_canonical_sections_and_bodies():
    parsed = R1VL.parse(CANONICAL)
    assert kinds(CANONICAL) == [("description", None), ("rationale", None), ("preamble", None),
                                ("step", 1), ("step", 2), ("answer", None)]
    assert [s.body for s in parsed.steps] == ["A = 4", "4 + 7 = 11"]
    assert parsed.answer == "11"
    assert parsed.steps_text == "A = 4\n4 + 7 = 11"


@pytest.mark.parametrize("variant", [
    CANONICAL.replace("### Step 1:", "**Step 1:**").replace("### Step 2:", "**Step 2**:"),
    CANONICAL.replace("### Step 1:", "Step 1 :").replace("### Step 2:", "## Step 2 :"),
    CANONICAL.replace("### ", ""),
    CANONICAL.replace("\n", "\r\n"),
    CANONICAL.replace("\n", "\n\n\n"),
    CANONICAL.replace("### Image Description:", "### **Image Description:**"),
    CANONICAL.replace("Let's", "Let’s"),
])
def test_realistic_variants_parse_the_same(variant):
    parsed = R1VL.parse(variant)
    assert kinds(variant) == kinds(CANONICAL)
    assert [s.body for s in parsed.steps] == ["A = 4", "4 + 7 = 11"]
    assert parsed.answer == "11"


def test_offsets_index_the_original_text_with_crlf():
    text = CANONICAL.replace("\n", "\r\n")
    for section in R1VL.parse(text).sections:
        assert text[section.body_start:section.body_end].strip() == section.body
        assert section.start <= section.body_start <= section.body_end


def test_step_mentions_inside_prose_are_not_headers():
    text = "### Rationales:\nIn step 1 we add. Step 2 is easy\n### Step 1:\nx"
    assert kinds(text) == [("rationale", None), ("step", 1)]


def test_think_format():
    text = "<think>Step 1: a = 2\nStep 2: b = 3\n</think>\n<answer> 5 </answer>"
    parsed = THINK.parse(text)
    assert [(s.kind, s.number) for s in parsed.sections] == [("preamble", None), ("step", 1), ("step", 2),
                                                             ("answer", None)]
    assert parsed.steps[1].body == "b = 3"
    assert parsed.answer == "5"


def test_user_defined_format():
    fmt = register_format(ReasoningFormat(
        name="plan",
        patterns={"rationale": header("plan"), "step": header(r"move[ \t]*(?P<n>\d+)"), "answer": header("result")},
        analysis=("rationale",),
    ))
    parsed = get_format("plan").parse("Plan: go\nMove 1: left\nMove 2: up\nResult: home")
    assert [s.number for s in parsed.steps] == [1, 2]
    assert parsed.answer == "home"
    assert fmt is get_format("plan")


def test_format_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown reasoning format 'nope'"):
        get_format("nope")
    with pytest.raises(ValueError, match="must capture its number"):
        ReasoningFormat(name="x", patterns={"step": "step", "answer": "a"})
    with pytest.raises(ValueError, match="unknown section kinds"):
        ReasoningFormat(name="x", patterns={"step": "(?P<n>1)", "answer": "a", "summary": "s"})
