"""View decorators that check the user's role."""

import functools

from flask import abort
from flask_login import current_user, login_required


def ledger_access_required(view):
    """Allow roles that read ledger data (admin, manager, collector); 403 for others."""

    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.reads_ledger:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def role_required(*roles):
    """Allow only the given roles; 403 for others."""

    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator
