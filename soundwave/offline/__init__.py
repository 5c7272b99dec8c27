"""The offline default recipe's kit: what stands in for downloads on a machine without any.

- :mod:`.synth`: the synthetic multi-speaker, multi-task corpus (espeak-ng / flite);
- :mod:`.standin`: the stand-in "pretrained" encoder and LLM, saved in HF layout;
- :mod:`.tiny`: the one factory of tiny random HF models (tests and stand-ins).

It may import the core; the core never imports it.
"""
