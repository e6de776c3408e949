"""PLACEHOLDER: replaced by the module owner; grep PLACEHOLDER before release."""

def trajectories(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("trajectories is not implemented yet")

