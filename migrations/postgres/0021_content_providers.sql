-- Content providers (issue 16): the content library's items come from content-provider
-- components, each item named by its provider (the component's name in the manifest) and the
-- provider's own stable id for it. The host keeps the rows in step with the active version's
-- catalogue (host/src/content/sync.rs): an item is upserted by (provider, external_id), so
-- its row id never changes, and an item that left the catalogue is deactivated, never
-- deleted (recommendations and journal entries point at it).
--
-- `updated_at`: when a sync last changed the row (NULL: never changed since it was created).
-- Rows without a provider (added by an operator's SQL) are left alone by every sync.
--
-- The journaling prompts of 0007 now belong to the built-in library (`content-library`):
-- the same ids, and external ids its catalogue (components/content-library/items.toml)
-- gives the same texts, so the first sync finds them unchanged.
ALTER TABLE content_library
    ADD COLUMN provider VARCHAR(100),
    ADD COLUMN external_id VARCHAR(200),
    ADD COLUMN updated_at TIMESTAMPTZ;

CREATE UNIQUE INDEX idx_content_library_provider_item ON content_library(provider, external_id);

UPDATE content_library SET provider = 'content-library', external_id = 'prompt/three-good-things', target_factors = '[]' WHERE id = '3c1f0e7a-5b2d-4e8a-9f61-7a0d2c9e0001';
UPDATE content_library SET provider = 'content-library', external_id = 'prompt/someone-im-grateful-for', target_factors = '[]' WHERE id = '3c1f0e7a-5b2d-4e8a-9f61-7a0d2c9e0002';
UPDATE content_library SET provider = 'content-library', external_id = 'prompt/small-comforts', target_factors = '[]' WHERE id = '3c1f0e7a-5b2d-4e8a-9f61-7a0d2c9e0003';
UPDATE content_library SET provider = 'content-library', external_id = 'prompt/a-strength-i-used', target_factors = '[]' WHERE id = '3c1f0e7a-5b2d-4e8a-9f61-7a0d2c9e0004';
UPDATE content_library SET provider = 'content-library', external_id = 'prompt/how-am-i-really', target_factors = '[]' WHERE id = '3c1f0e7a-5b2d-4e8a-9f61-7a0d2c9e0005';
UPDATE content_library SET provider = 'content-library', external_id = 'prompt/what-drained-me-what-filled-me', target_factors = '[]' WHERE id = '3c1f0e7a-5b2d-4e8a-9f61-7a0d2c9e0006';
UPDATE content_library SET provider = 'content-library', external_id = 'prompt/letter-to-my-future-self', target_factors = '[]' WHERE id = '3c1f0e7a-5b2d-4e8a-9f61-7a0d2c9e0007';
UPDATE content_library SET provider = 'content-library', external_id = 'prompt/what-is-within-my-control', target_factors = '[]' WHERE id = '3c1f0e7a-5b2d-4e8a-9f61-7a0d2c9e0008';
UPDATE content_library SET provider = 'content-library', external_id = 'prompt/thought-record-situation', target_factors = '[]' WHERE id = '3c1f0e7a-5b2d-4e8a-9f61-7a0d2c9e0009';
UPDATE content_library SET provider = 'content-library', external_id = 'prompt/thought-record-automatic-thoughts', target_factors = '[]' WHERE id = '3c1f0e7a-5b2d-4e8a-9f61-7a0d2c9e0010';
UPDATE content_library SET provider = 'content-library', external_id = 'prompt/thought-record-evidence', target_factors = '[]' WHERE id = '3c1f0e7a-5b2d-4e8a-9f61-7a0d2c9e0011';
UPDATE content_library SET provider = 'content-library', external_id = 'prompt/thought-record-balanced-thought', target_factors = '[]' WHERE id = '3c1f0e7a-5b2d-4e8a-9f61-7a0d2c9e0012';
UPDATE content_library SET provider = 'content-library', external_id = 'prompt/being-kind-to-myself', target_factors = '[]' WHERE id = '3c1f0e7a-5b2d-4e8a-9f61-7a0d2c9e0013';
UPDATE content_library SET provider = 'content-library', external_id = 'prompt/looking-forward', target_factors = '[]' WHERE id = '3c1f0e7a-5b2d-4e8a-9f61-7a0d2c9e0014';
