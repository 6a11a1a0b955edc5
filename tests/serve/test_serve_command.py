"""``crossrank serve`` refuses what it cannot serve before it starts listening."""

from __future__ import annotations

import pytest

from crossrank.cli import main


def test_a_missing_bundle_stops_the_command_with_status_2(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "nowhere")]) == 2
    assert "bundle folder not found" in capsys.readouterr().err


def test_a_corrupt_bundle_stops_the_command_with_status_2(tmp_path, capsys):
    (tmp_path / "crossrank.json").write_text("{", encoding="utf-8")
    assert main(["serve", str(tmp_path)]) == 2
    assert "crossrank.json" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_a_bad_port_is_an_argument_error(port, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--port", port])
    assert exit_.value.code == 2 and "--port" in capsys.readouterr().err


def test_settings_reach_the_server(tmp_path, monkeypatch):
    """The command turns its flags (and CROSSRANK_API_KEY) into ServeSettings for crossrank.serve.run."""
    import crossrank.cli.serve as command

    seen = {}
    monkeypatch.setattr(command, "serve", lambda settings: seen.setdefault("settings", settings) and 0)
    monkeypatch.setattr(command.Bundle, "load", staticmethod(lambda path: None))
    monkeypatch.setenv("CROSSRANK_API_KEY", "from-env")
    assert main(["serve", str(tmp_path), "--port", "9000", "--max-queue-tokens", "5000", "--auto-truncate"]) == 0
    s = seen["settings"]
    assert (s.port, s.host, s.api_key, s.max_queue_tokens, s.auto_truncate) == (9000, "127.0.0.1", "from-env", 5000, True)
    assert s.bundle == tmp_path
