"""tfpilot-summarize-llm: grounded plan summaries through litellm."""
