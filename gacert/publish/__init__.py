"""Stage 5, publish: tell others what the results say.

`notify` sends notifications (Slack, a generic webhook, email) of a run's or a
watch's verdict and of gate checks that turn failing; each target is a module
of its own (`slack`, `webhook`, `mail`). Like every stage after the engine,
it reads the results document only.
"""
