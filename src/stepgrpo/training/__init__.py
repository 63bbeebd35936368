"""StepGRPO training on TRL: configuration and presets (`config`), the trainer (`trainer`), the
`train` pipeline (`run`) and the SFT warm-up (`sft`). Import the submodules; they pull in TRL."""
