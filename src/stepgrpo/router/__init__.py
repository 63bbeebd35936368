"""R1-Router (MoRE, arXiv 2505.22095): step-wise retrieval across knowledge bases, trained with
R1-Router Step-GRPO. Not to be confused with R1-VL's StepGRPO, which lives in `stepgrpo.rewards`.

Modules: `format` (official prompts and output parsing), `kb` (knowledge bases and indexes),
`records` (trajectories to per-step training rows), `rewards` (router-step and answer-step
rewards), `world` (the generated multi-hop task), `inference` (the route-retrieve-answer loop),
`onpolicy` (multi-turn rollouts of that loop for on-policy Step-GRPO, our extension).
"""
