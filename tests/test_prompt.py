"""Prompt validation: refused before any work, with the field named."""

import pytest

from longcat_i2v.errors import InvalidInputError
from longcat_i2v.text import validate_prompt


@pytest.mark.parametrize(
    "text,match",
    [
        (None, "prompt must be a string, got NoneType"),
        (42, "prompt must be a string, got int"),
        (b"a cat", "prompt must be a string, got bytes"),
        ("\ud800", "prompt is not valid Unicode: lone surrogate U\\+D800 at character 0"),
        ("a cat \udfff runs", "lone surrogate U\\+DFFF at character 6"),
        ("x" * 11, "prompt has 11 characters; at most 10 are allowed"),
    ],
)
def test_bad_prompts_are_refused_naming_the_field(text, match):
    with pytest.raises(InvalidInputError, match=match):
        validate_prompt(text, "prompt", max_chars=10)


def test_field_name_and_good_prompts():
    with pytest.raises(InvalidInputError, match="^negative_prompt must be a string"):
        validate_prompt(["x"], "negative_prompt", 10)
    for good in ("", "x" * 10, "猫が跳ぶ 🐈", "\U0001f408\u200d\u2b1b"):  # astral characters are fine
        assert validate_prompt(good, "prompt", 10) is good
