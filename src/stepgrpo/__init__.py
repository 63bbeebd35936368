"""Step-wise rewards and advantages for GRPO."""
