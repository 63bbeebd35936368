"""Char spans → token ranges, exact for the project's byte-level BPE and for any decode function."""

from __future__ import annotations

from itertools import pairwise

import pytest

from stepgrpo.advantages import step_rewards, token_of_chars, token_ranges
from stepgrpo.models.tiny import build_tokenizer

TEXT = ("### Image Description:\nEin Balkendiagramm — 日本語 😀 naïve.\n### Rationales:\nAdd.\n"
        "### Let's think step by step.\n### Step 1:\n3 × 4 = 12 ≠ 13\n### Step 2:\n😀😀 = 2\n"
        "### The final answer is: 12")


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


def decoder(tokenizer):
    return lambda ids: tokenizer.decode(ids, skip_special_tokens=True)


def brute_force(ids, text, decode):
    """Token of char c: the first k with decode(ids[:k + 1]) starting with text[:c + 1]."""
    return [next(k for k in range(len(ids)) if decode(ids[: k + 1]).startswith(text[: c + 1]))
            for c in range(len(text))]


def byte_ids(tokenizer, text):
    """One token per UTF-8 byte: sampled ids need not be the canonical encoding, and split characters."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    table = bytes_to_unicode()
    return tokenizer.convert_tokens_to_ids([table[byte] for byte in text.encode("utf-8")])


@pytest.mark.parametrize("encoding", ["canonical", "bytes", "per character"])
def test_every_char_maps_to_the_token_that_produces_it(tokenizer, encoding):
    decode = decoder(tokenizer)
    if encoding == "canonical":
        ids = tokenizer.encode(TEXT)
    elif encoding == "bytes":
        ids = byte_ids(tokenizer, TEXT)
    else:
        ids = [i for char in TEXT for i in tokenizer.encode(char)]
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    ids = [*ids, eos]  # a completion ends with EOS, which decodes to nothing
    assert decode(ids) == TEXT
    assert token_of_chars(ids, TEXT, range(len(TEXT)), decode) == brute_force(ids, TEXT, decode)
    if encoding == "bytes":  # "日" is 3 byte-tokens: it belongs to the one that completes it
        position = TEXT.index("日")
        first = len(TEXT[:position].encode("utf-8"))
        assert token_of_chars(ids, TEXT, [position], decode) == [first + 2]


def test_section_spans_partition_the_tokens(tokenizer):
    decode = decoder(tokenizer)
    ids = [*tokenizer.encode(TEXT), tokenizer.convert_tokens_to_ids("<|im_end|>")]
    result = step_rewards(TEXT, "12", None)
    ranges = token_ranges(ids, TEXT, result.starts, decode)
    assert len(ranges) == len(result.spans)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(ids)
    assert all(a[1] == b[0] for a, b in pairwise(ranges))
    for (start, end), (low, high) in zip(result.spans, ranges, strict=True):
        # headers start at line starts and this tokenizer splits at newlines: spans are token-aligned
        assert decode(ids[low:high]) == TEXT[start:end]
    assert decode(ids[ranges[-1][0]:ranges[-1][1]]) == "### The final answer is: 12"


def test_straddling_token_belongs_to_the_later_span():
    vocab = ["ab", "cd", "ef"]  # a toy tokenizer whose tokens are two characters each

    def decode(ids):
        return "".join(vocab[i] for i in ids)

    assert token_ranges([0, 1, 2], "abcdef", [0, 3], decode) == [(0, 1), (1, 3)]
    assert token_ranges([0, 1, 2], "abcdef", [0, 2, 6], decode) == [(0, 1), (1, 3), (3, 3)]


def test_rewriting_decoder_is_still_exact():
    # a decoder that drops the space before punctuation (like clean_up_tokenization_spaces)
    vocab = ["Hi", " ", ".", " there"]

    def decode(ids):
        return "".join(vocab[i] for i in ids).replace(" .", ".")

    ids = [0, 1, 2, 3]
    text = decode(ids)
    assert text == "Hi. there"
    assert token_of_chars(ids, text, range(len(text)), decode) == brute_force(ids, text, decode)


def test_bad_input_is_refused(tokenizer):
    decode = decoder(tokenizer)
    ids = tokenizer.encode("abc")
    with pytest.raises(ValueError, match="decode to"):
        token_ranges(ids, "abd", [0], decode)
    with pytest.raises(ValueError, match="sorted and begin at 0"):
        token_ranges(ids, "abc", [1], decode)
