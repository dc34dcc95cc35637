"""Extension singletons, bound to an app by ``create_app`` through ``init_app``."""

from flask_caching import Cache
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from taskapi.jwtmanager import JWTManager
from taskapi.ratelimits import client_key, default_limit, exempt_from_default
from taskapi.smorest import Api

#: Deterministic constraint names, so Alembic can alter them (SQLite batch mode
#: included). See the SQLAlchemy docs, "Configuring Constraint Naming Conventions".
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Objects stay readable after commit without a reload query: a reload inside a
# write request would open a second (locking) transaction on SQLite.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
jwt = JWTManager()
api = Api()
#: The list page cache (taskapi.tasks.page_cache); CACHE_* settings of Flask-Caching.
cache = Cache()
limiter = Limiter(key_func=client_key, default_limits=[default_limit],
                  default_limits_exempt_when=exempt_from_default)
