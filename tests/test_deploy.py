"""The deployment files agree with the code they deploy (no container runtime here to run them).

``tests/test_proxy.py`` runs ``deploy/Caddyfile`` for real; these checks catch the drift a
compose file is prone to: a setting renamed in the code but not in the file, a file the image
copies that no longer exists, a service the proxy names that is not defined.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from assessor.environment import read_environment
from assessor.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def test_every_setting_the_compose_file_sets_exists_and_is_valid() -> None:
    environment = compose()["x-app"]["environment"]
    names = [name for name in environment if name.startswith("ASSESSOR_")]
    assert {"ASSESSOR_DATABASE_URL", "ASSESSOR_INDEX__URL", "ASSESSOR_AUDIT_KEY", "ASSESSOR_DATA_DIR"} <= set(names)
    values = {name: re.sub(r"\$\{[^}]*\}", "x" * 40, str(value)) for name, value in environment.items()}
    found = read_environment(Settings, prefix="ASSESSOR_", environ=values, dotenv=ROOT / "absent.env")
    flattened = {
        "ASSESSOR_" + "__".join(path).upper()
        for key, value in found.items()
        for path in ([[key, sub] for sub in value] if isinstance(value, dict) else [[key]])
    }
    assert set(names) == flattened, f"names the settings do not know: {set(names) - flattened}"
    settings = Settings.model_validate(found)  # the values themselves validate
    assert settings.app.root_path == "/assessor" and settings.app.host == "0.0.0.0"


def test_the_proxy_serves_the_app_services_under_the_prefix_the_app_expects() -> None:
    services = compose()["services"]
    caddyfile = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    upstreams = re.search(r"reverse_proxy ([^{]+)\{", caddyfile)
    assert upstreams
    for upstream in upstreams.group(1).split():
        host, port = upstream.split(":")
        assert host in services and port == "7860", upstream
    prefix = compose()["x-app"]["environment"]["ASSESSOR_APP__ROOT_PATH"]
    assert f"handle_path {prefix}/*" in caddyfile
    assert "lb_policy cookie" in caddyfile  # Gradio's queue: a page stays on one replica
    assert any("./Caddyfile:" in volume for volume in services["proxy"]["volumes"])


def test_the_image_copies_files_that_exist() -> None:
    for line in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"
