"""Offline synthetic multi-task speech corpus: a synchronous English->German grammar
(:mod:`grammar`), QA pairs (:mod:`qa`), synthetic espeak-ng / flite speakers
(:mod:`speakers`), TTS (:mod:`synthesize`) and the corpus builder (:mod:`corpus`)."""
