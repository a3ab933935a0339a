import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "repro"


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory):
    """The harness's own synthetic layout (vocabulary 512): datasets/synth_sp512, tokenizers/synth_512_bpe.model."""
    from harness.data.synth import build_synthetic_dataset

    root = tmp_path_factory.mktemp("synth")
    build_synthetic_dataset(root, n_docs=600, val_docs=20, vocab_size=512)
    return root


@pytest.fixture
def baseline_like(tmp_path):
    """A copy of the baseline-shaped fixture submission; edit its constants to make variants."""
    dest = tmp_path / "baseline_like"
    shutil.copytree(FIXTURES / "baseline_like", dest)
    return dest


def set_constant(folder: Path, name: str, value: str) -> None:
    script = folder / "train_gpt.py"
    text = script.read_text()
    old = next(line for line in text.splitlines() if line.startswith(f"{name} = "))
    script.write_text(text.replace(old, f"{name} = {value}", 1))
