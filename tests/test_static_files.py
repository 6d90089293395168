"""Production static files: collected, hashed, compressed and cached for long by WhiteNoise."""

from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

PRODUCTION_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


@pytest.fixture
def collected(tmp_path: Path) -> Path:
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=PRODUCTION_STORAGES, WHITENOISE_USE_FINDERS=False):
        call_command("collectstatic", "--noinput", verbosity=0)
    return tmp_path


def test_a_collected_static_file_is_served_gzip_encoded_with_a_hashed_name_and_a_long_cache(collected: Path) -> None:
    with override_settings(STATIC_ROOT=collected, STORAGES=PRODUCTION_STORAGES, WHITENOISE_USE_FINDERS=False):
        from django.templatetags.static import static

        url = static("admin/css/base.css")
        response = Client().get(url, HTTP_ACCEPT_ENCODING="gzip")

    assert url != "/static/admin/css/base.css"
    assert url.startswith("/static/admin/css/base.") and url.endswith(".css")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert "max-age=315360000" in response["Cache-Control"]


def test_production_does_not_serve_uncollected_app_files(tmp_path: Path) -> None:
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=PRODUCTION_STORAGES, WHITENOISE_USE_FINDERS=False):
        response = Client().get("/static/admin/css/base.css", HTTP_ACCEPT_ENCODING="gzip")

    assert response.status_code == 404
