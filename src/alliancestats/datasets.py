"""PLACEHOLDER: replaced by the module owner; grep PLACEHOLDER before release."""

def list_samples(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("list_samples is not implemented yet")

def read_sample(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("read_sample is not implemented yet")

