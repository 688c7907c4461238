"""Import every model module so Alembic and ``db.create_all`` see all tables."""

from app.audit.models import AuditEntry  # noqa: F401
from app.auth.models import Team, User  # noqa: F401
from app.collection.models import (  # noqa: F401
    Activity,
    Dispute,
    DunningAction,
    DunningLevel,
    DunningPolicy,
    Letter,
    LetterTemplate,
    Promise,
)
from app.ledger.models import Allocation, Customer, Invoice, Payment  # noqa: F401
from app.rollout import models as rollout_models  # noqa: F401
from migration.models import (  # noqa: F401
    ImportRejection,
    ImportRun,
    LegacyCutover,
    RunChange,
)
