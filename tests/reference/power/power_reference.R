# Reference values for alliancestats.power that base R computes:
# * exact (Clopper-Pearson) binomial intervals: binom.test()$conf.int;
# * two-sided power of a t test with noncentrality ncp, as powerlmm 0.4.0's get_power computes
#   it: pt(qt(1 - a/2, df), df, ncp, lower.tail = FALSE) + pt(qt(a/2, df), df, ncp).
# (powerlmm itself is not in Debian; its published powers are pinned in the tests.)
# Writes power_reference.json next to this script. Run: bash tests/reference/regenerate.sh power
suppressPackageStartupMessages(library(jsonlite))

binom <- list(c(9, 10, 0.95), c(412, 1000, 0.95), c(3, 20, 0.90), c(0, 25, 0.95),
              c(50, 50, 0.99), c(287, 1000, 0.95))
binom_out <- lapply(binom, function(b) {
  ci <- binom.test(b[1], b[2], conf.level = b[3])$conf.int
  list(successes = b[1], trials = b[2], level = b[3], low = ci[1], high = ci[2])
})

tpow <- list(c(-2.5, 6, 0.05), c(-1.3, 48, 0.05), c(0.5, 3, 0.05), c(3.1, 120, 0.01),
             c(-0.8, 4.5, 0.05), c(2, 7.971459, 0.10))
tpow_out <- lapply(tpow, function(p) {
  ncp <- p[1]; df <- p[2]; a <- p[3]
  pw <- pt(qt(1 - a / 2, df = df), df = df, ncp = ncp, lower.tail = FALSE) +
    pt(qt(a / 2, df = df), df = df, ncp = ncp)
  list(ncp = ncp, df = df, alpha = a, power = pw)
})

out <- list(
  meta = list(r_version = R.version.string),
  clopper_pearson = binom_out,
  t_power = tpow_out
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "power_reference.json")
