"""Sync for offline clients: the change feed (:mod:`taskapi.sync.feed`), idempotent
writes (:mod:`taskapi.sync.idempotency`) and batches (:mod:`taskapi.sync.batch`),
under /api/v1; the blueprint is :data:`taskapi.sync.routes.blp`."""
