"""PLACEHOLDER: replaced by the module owner; grep PLACEHOLDER before release."""

def simulate_sessions(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("simulate_sessions is not implemented yet")

