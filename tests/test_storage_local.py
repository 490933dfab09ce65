"""The local-disk backend passes the storage contract suite."""

import pytest

from pichr_appliance.storage.contract import StorageBackendContract
from pichr_appliance.storage.local import LocalStorage
from pichr_appliance.testing import make_settings


class TestLocalStorage(StorageBackendContract):
    @pytest.fixture
    async def backend(self, tmp_path):
        backend = LocalStorage(make_settings(tmp_path / "data"))
        await backend.startup()
        yield backend
        await backend.shutdown()

    async def test_objects_live_under_the_root_and_tmp_is_clean(self, backend):
        from pichr_appliance.storage.contract import _chunks

        await backend.put("uploads/x/file.bin", _chunks(b"abc"))
        assert (backend.root / "uploads/x/file.bin").read_bytes() == b"abc"
        assert list(backend.tmp.iterdir()) == []
        await backend.delete("uploads/x/file.bin")
        assert not (backend.root / "uploads").exists()  # empty folders tidied

    async def test_a_put_survives_a_delete_tidying_its_folders_away(self, backend, monkeypatch):
        """Between making a key's folders and the rename, another request's delete may
        tidy them away (crash test seed 396: a 500 on a multipart part)."""
        import os

        from pichr_appliance.storage import local
        from pichr_appliance.storage.contract import _chunks

        real = os.replace
        calls = []

        def replace(src, dst):
            if not calls:  # the first rename finds its folders gone, as in the race
                calls.append(dst)
                os.rmdir(os.path.dirname(dst))
                os.rmdir(os.path.dirname(os.path.dirname(dst)))
            return real(src, dst)

        monkeypatch.setattr(local.os, "replace", replace)
        await backend.put("multipart/upl_1/part-1", _chunks(b"part"))
        assert calls and (backend.root / "multipart/upl_1/part-1").read_bytes() == b"part"
        assert list(backend.tmp.iterdir()) == []


def test_local_backend_is_registered_through_the_plugin_hook(tmp_path):
    from pichr_appliance.plugins import get_plugin_manager
    from pichr_appliance.runtime import choose_storage

    settings = make_settings(tmp_path / "d")
    pm = get_plugin_manager(settings)
    names = [
        c.name for group in pm.hook.register_storage_backends(settings=settings) for c in group
    ]
    assert "local" in names  # installed storage plugins may add more
    assert isinstance(choose_storage(settings, pm), LocalStorage)


def test_unknown_backend_lists_available(tmp_path):
    from pichr_appliance.config import ConfigError
    from pichr_appliance.plugins import get_plugin_manager
    from pichr_appliance.runtime import choose_storage

    settings = make_settings(tmp_path / "d", {"storage": {"backend": "nosuchstore"}})
    with pytest.raises(ConfigError, match=r"'nosuchstore'; available: (\w+, )*local"):
        choose_storage(settings, get_plugin_manager(settings))
