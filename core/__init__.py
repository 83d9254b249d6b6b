"""Omnibot's foundation, importing nothing else of ours: settings (`config`), the database engine, units of work
and retries (`db`), portable column types (`types`), the shared model base (`orm`), field encryption and blind
indexes (`crypto`, `key_rotation`), users and roles (`users`, `user_service`), ids (`ids`), the clock (`clock`)
and the one error tree (`errors`). TOTP and the audit log arrive with the bot and admin issues."""
