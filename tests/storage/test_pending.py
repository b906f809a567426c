"""Provider voices still to delete: kept in a small file and retried until the provider says yes."""

from __future__ import annotations

import json

from backend.storage.pending import PendingDeletions


def test_appended_deletions_are_kept_in_order(tmp_path):
    pending = PendingDeletions(tmp_path / "pending_deletions.json")
    assert pending.items() == []
    pending.append("model-1", "fish")
    pending.append("model-2", "local")
    assert pending.items() == [
        {"model_id": "model-1", "provider": "fish"},
        {"model_id": "model-2", "provider": "local"},
    ]
    assert PendingDeletions(tmp_path / "pending_deletions.json").items() == pending.items()  # on disk
    assert [p.name for p in tmp_path.iterdir()] == ["pending_deletions.json"]  # no temporary left


def test_a_retry_keeps_only_what_still_fails(tmp_path):
    pending = PendingDeletions(tmp_path / "pending_deletions.json")
    for model_id in ("gone", "stubborn", "also-gone"):
        pending.append(model_id, "fish")
    asked = []

    def delete(model_id: str, provider: str) -> bool:
        asked.append((model_id, provider))
        return model_id != "stubborn"

    assert pending.retry(delete) == 1
    assert asked == [("gone", "fish"), ("stubborn", "fish"), ("also-gone", "fish")]
    assert pending.items() == [{"model_id": "stubborn", "provider": "fish"}]
    assert pending.retry(lambda model_id, provider: True) == 0
    assert pending.items() == [] and not (tmp_path / "pending_deletions.json").exists()


def test_entries_without_a_provider_are_retried_with_none_named(tmp_path):
    path = tmp_path / "pending_deletions.json"
    path.write_text(json.dumps([{"model_id": "old"}, {"no": "id"}, "junk"]))
    asked = []
    assert PendingDeletions(path).retry(lambda model_id, provider: asked.append((model_id, provider)) or False) == 1
    assert asked == [("old", "")]


def test_an_unreadable_list_starts_over(tmp_path, caplog):
    path = tmp_path / "pending_deletions.json"
    path.write_text("{not json")
    pending = PendingDeletions(path)
    assert pending.items() == [] and "unreadable" in caplog.text
    pending.append("model-1", "fish")
    assert pending.items() == [{"model_id": "model-1", "provider": "fish"}]
