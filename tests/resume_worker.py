"""`stepgrpo` CLI whose checkpoint save at step $PAUSE_AT_STEP stops half-way (model and optimizer
written, RNG state and trainer_state.json not yet) and waits, after creating $SAVING_FLAG, so that
tests/test_resume.py can `kill -9` it in the middle of a real save."""

import os
import sys
import time
from pathlib import Path

from transformers import Trainer

PAUSE_AT_STEP = int(os.environ["PAUSE_AT_STEP"])
_save_rng_state = Trainer._save_rng_state


def _paused_save_rng_state(self, output_dir):
    if self.state.global_step == PAUSE_AT_STEP:
        Path(os.environ["SAVING_FLAG"]).touch()
        time.sleep(600)
    return _save_rng_state(self, output_dir)


Trainer._save_rng_state = _paused_save_rng_state

if __name__ == "__main__":
    from stepgrpo.cli import main

    sys.argv = ["stepgrpo", *sys.argv[1:]]
    main()
