"""PLACEHOLDER: replaced by the module owner; grep PLACEHOLDER before release."""

def clinical_significance(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("clinical_significance is not implemented yet")

def instruments(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("instruments is not implemented yet")

def mcid_change(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("mcid_change is not implemented yet")

def register_instrument(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("register_instrument is not implemented yet")

def reliable_change(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("reliable_change is not implemented yet")

def score(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("score is not implemented yet")

