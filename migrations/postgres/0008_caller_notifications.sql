-- Replicas remember who a caller is (account, tier, zone, locale, consents) for a few
-- seconds. Any change to those rows, whatever makes it (an API request on any replica, the
-- CLI, an operator's SQL), tells every replica at commit, on channel `mindflow_callers`,
-- with the user's id: the replicas forget that caller (host/src/identity/callers.rs).
-- The trigger's argument names the column holding the user's id. PostgreSQL delivers one
-- notification per distinct payload per transaction.

CREATE FUNCTION mindflow_notify_caller_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('mindflow_callers', to_jsonb(OLD) ->> TG_ARGV[0]);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify('mindflow_callers', to_jsonb(NEW) ->> TG_ARGV[0]);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_notify_callers
    AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION mindflow_notify_caller_changed('id');

CREATE TRIGGER user_consents_notify_callers
    AFTER INSERT OR UPDATE OR DELETE ON user_consents
    FOR EACH ROW EXECUTE FUNCTION mindflow_notify_caller_changed('user_id');
