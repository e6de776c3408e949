"""PLACEHOLDER: replaced by the module owner; grep PLACEHOLDER before release."""

def effect_sizes(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("effect_sizes is not implemented yet")

def egger_test(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("egger_test is not implemented yet")

def leave_one_out(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("leave_one_out is not implemented yet")

def meta_analysis(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("meta_analysis is not implemented yet")

def trim_and_fill(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("trim_and_fill is not implemented yet")

MetaResult = object  # PLACEHOLDER
