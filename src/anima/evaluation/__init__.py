"""Dialogue evaluation: plays a script of player lines to characters through the real engine
and scores every reply (``anima eval``, ``bench/bench_dialogue.py``).

- ``script``: the script and the characters (files, or the project's own);
- ``instructions``: the prompt's instruction texts, which a character must not say aloud;
- ``scorers``: the checks of one reply, pure functions;
- ``runner``: plays the script in process or against a server and scores each turn;
- ``report``: figures, the JSON report, the text table and the thresholds;
- ``command``: the ``anima eval`` command.

It sits on top of the engine like a face: nothing else in Anima imports it.
"""
