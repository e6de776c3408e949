"""PLACEHOLDER: replaced by the module owner; grep PLACEHOLDER before release."""

def load_sessions(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("load_sessions is not implemented yet")

SessionData = object  # PLACEHOLDER
