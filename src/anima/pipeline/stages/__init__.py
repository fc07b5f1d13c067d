"""The stages of the character brain, composed around the model call by ``TurnRunner``
(pipeline/runner.py); their shape is in ``stages/base.py``."""
