"""PLACEHOLDER: replaced by the module owner; grep PLACEHOLDER before release."""

def baujat(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("baujat is not implemented yet")

