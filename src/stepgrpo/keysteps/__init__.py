"""Key-step extraction: from a reference reasoning to StepRAR key steps (groups of equivalent forms).

`rules` is the offline default, `llm` runs R1-VL's three stages on an OpenAI-compatible endpoint,
and `pipeline` checks whatever either proposes against the reference before it is written.
"""
