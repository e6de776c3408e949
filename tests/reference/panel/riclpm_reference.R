# Reference values for alliancestats.panel.riclpm / clpm (lavaan 0.6-14).
# Every model is written out by riclpm_syntax() (helpers_riclpm.R) and fitted with
# lavaan(missing = "ML", meanstructure = TRUE, int.ov.free = TRUE, fixed.x = FALSE) as in
# Mulder & Hamaker (2021). Standard errors: observed information (lavaan's default with
# missing = "ML"), expected information and robust (Huber-White sandwich) from refits.
# Writes riclpm_reference.json. Run: bash tests/reference/regenerate.sh panel
source("helpers_lavaan.R")
source("helpers_riclpm.R")

xy <- c(paste0("x_", 1:5), paste0("y_", 1:5))
ri <- read.table(file.path("data", "RICLPM.dat"), col.names = xy)
riz <- read.table(file.path("data", "RICLPM-Z.dat"), col.names = c(xy, "z2", "z1"))
rig <- read.table(file.path("data", "RICLPM-MG.dat"), col.names = c(xy, "G"))
rim <- read.csv(file.path("data", "riclpm_missing.csv"))
ps_long <- read.csv(file.path("data", "psychotherapy_sessions.csv"))
ps <- reshape(ps_long, idvar = "patient", timevar = "session", direction = "wide", sep = "_")

cases <- list(
  list(name = "riclpm", data = "RICLPM.dat", d = ri, args = list(), se_all = TRUE,
       published = list(chisq = 25.806, df = 21, logl = 531.750)),
  list(name = "clpm", data = "RICLPM.dat", d = ri, args = list(random_intercepts = FALSE),
       published = list(chisq = 202.225, df = 24)),
  list(name = "riclpm_paths", data = "RICLPM.dat", d = ri, args = list(equal = "paths")),
  list(name = "riclpm_constrained", data = "RICLPM.dat", d = ri,
       args = list(equal = c("paths", "innovations", "means"))),
  list(name = "riclpm_z_intercepts", data = "RICLPM-Z.dat", d = riz,
       args = list(covariates = "z1", covariate_target = "intercepts")),
  list(name = "riclpm_z_observed", data = "RICLPM-Z.dat", d = riz,
       args = list(covariates = "z1", covariate_target = "observed")),
  list(name = "riclpm_groups", data = "RICLPM-MG.dat", d = rig, group = "G",
       args = list(ngroups = 2)),
  list(name = "riclpm_groups_equal", data = "RICLPM-MG.dat", d = rig, group = "G",
       args = list(ngroups = 2, equal = "groups")),
  list(name = "riclpm_missing", data = "riclpm_missing.csv", d = rim, args = list(),
       se_all = TRUE),
  list(name = "clpm_missing", data = "riclpm_missing.csv", d = rim,
       args = list(random_intercepts = FALSE)),
  list(name = "psychotherapy_riclpm", data = "psychotherapy_sessions.csv", d = ps,
       x = "wai_sr", y = "symptoms", waves = 1:8, args = list(equal = "paths"),
       se_all = TRUE),
  list(name = "psychotherapy_clpm", data = "psychotherapy_sessions.csv", d = ps,
       x = "wai_sr", y = "symptoms", waves = 1:8,
       args = list(equal = "paths", random_intercepts = FALSE))
)

run_case <- function(cs) {
  x <- if (is.null(cs$x)) "x" else cs$x
  y <- if (is.null(cs$y)) "y" else cs$y
  waves <- if (is.null(cs$waves)) 1:5 else cs$waves
  model <- do.call(riclpm_syntax, c(list(x = x, y = y, waves = waves), cs$args))
  fit1 <- function(...) {
    if (is.null(cs$group)) riclpm_fit(model, cs$d, ...) else
      riclpm_fit(model, cs$d, group = cs$group, ...)
  }
  fit <- fit1()
  se_fits <- list()
  if (isTRUE(cs$se_all)) {
    se_fits$se_expected <- fit1(information = "expected")
    se_fits$se_robust <- fit1(se = "robust.huber.white")
  }
  args <- cs$args
  args$ngroups <- NULL
  fit_record(fit, se_fits, list(
    name = cs$name, data = cs$data, x = x, y = y, waves = waves, options = args,
    group = if (is.null(cs$group)) NULL else cs$group,
    published = cs$published, model = model))
}

out <- list(versions = versions(), cases = lapply(cases, run_case))
names(out$cases) <- vapply(cases, function(cs) cs$name, "")
writeLines(toJSON(out, digits = I(10), auto_unbox = TRUE, pretty = TRUE, dataframe = "columns", na = "null",
                  null = "null"), "riclpm_reference.json")
