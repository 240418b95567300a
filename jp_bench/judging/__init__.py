"""LLM-as-a-judge: turning a judge model's replies into verdicts and scores."""
