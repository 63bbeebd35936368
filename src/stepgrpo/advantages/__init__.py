"""Step-level credit assignment and EGSW weighting: from per-step rule-based rewards to per-token
advantages. `step_rewards` is pure Python; `spans` needs only a decode function; the torch parts
(`token_advantages`, `egsw`) are imported from their modules so that reward code stays torch-free.
"""

from stepgrpo.advantages.spans import token_of_chars, token_ranges
from stepgrpo.advantages.step_rewards import DEFAULT_WEIGHTS, StepRewards, step_rewards

__all__ = ["DEFAULT_WEIGHTS", "StepRewards", "step_rewards", "token_of_chars", "token_ranges"]
