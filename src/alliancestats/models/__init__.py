"""PLACEHOLDER: replaced by the module owner; grep PLACEHOLDER before release."""

def gee(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("gee is not implemented yet")

def glmm(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("glmm is not implemented yet")

def lmm(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("lmm is not implemented yet")

def lrt(*args, **kwargs):  # PLACEHOLDER
    raise NotImplementedError("lrt is not implemented yet")

MixedResult = object  # PLACEHOLDER
