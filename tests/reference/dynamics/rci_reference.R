# Reference values for alliancestats.rci_cutoff (Cronbach's alpha of item responses and the
# Jacobson-Truax reliable-change cut-off), computed with R psych.
# Writes rci_reference.json next to this script. Run from this folder:
#   Rscript --vanilla rci_reference.R
suppressMessages({
  library(psych)
  library(jsonlite)
})
sample_dir <- file.path("..", "..", "..", "data", "sample")
physio <- read.csv(file.path(sample_dir, "physio_cohort.csv"))
items <- physio[, paste0("wai_", 1:12)]

# case 1: the WAI-SR items of every physio_cohort session (missing whole administrations)
alpha_all <- psych::alpha(items, warnings = FALSE)$total$raw_alpha

# case 2: the first 300 complete administrations with scattered missing responses
complete <- items[stats::complete.cases(items), ][1:300, ]
holes <- outer(seq_len(nrow(complete)), seq_len(ncol(complete)),
               function(i, j) ((7 * i + 3 * j) %% 23) == 0)
scattered <- complete
scattered[holes] <- NA
alpha_scattered <- psych::alpha(scattered, warnings = FALSE)$total$raw_alpha

# case 3: the reliable-change cut-off from sgdata's baseline BDI with reliability .931
sg <- read.csv(file.path(sample_dir, "sgdata.csv"))
sd_pre <- sd(sg$bdi_s0, na.rm = TRUE)
sem <- sd_pre * sqrt(1 - 0.931)
out <- list(
  r_version = R.version.string,
  psych_version = as.character(packageVersion("psych")),
  alpha_all_items = alpha_all,
  alpha_scattered = alpha_scattered,
  scattered_rule = "first 300 complete rows; NA where (7 * row + 3 * item) %% 23 == 0 (1-based)",
  n_missing_scattered = sum(holes),
  sgdata_bdi_s0_sd = sd_pre,
  sgdata_sem = sem,
  sgdata_rci = 1.96 * sqrt(2) * sem
)
write_json(out, "rci_reference.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
