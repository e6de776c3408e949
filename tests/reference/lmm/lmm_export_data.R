# Run from tests/reference/lmm (regenerate.sh does). Export the public R reference data sets used by the LMM tests to CSV (run once; the CSVs are
# committed so that tests never need R). Sources: lme4 (sleepstudy, Dyestuff, Pastes,
# Penicillin), mlmRev (Hsb82), nlme (Orthodont, with visits removed deterministically).
suppressPackageStartupMessages({library(lme4); library(mlmRev); library(nlme)})
w <- function(d, f) write.csv(d, file.path("data", f), row.names = FALSE)
w(lme4::sleepstudy, "sleepstudy.csv")
w(lme4::Dyestuff, "dyestuff.csv")
w(lme4::Pastes, "pastes.csv")
w(lme4::Penicillin, "penicillin.csv")
h <- mlmRev::Hsb82
h$ses_mean <- ave(h$ses, h$school)
h$ses_within <- h$ses - h$ses_mean
w(h[, c("school", "minrty", "sx", "ses", "mAch", "meanses", "sector", "cses", "ses_mean",
        "ses_within")], "hsb82.csv")
# repeated measures with missing visits: Orthodont (nlme) with every 5th row blanked
o <- as.data.frame(nlme::Orthodont)
o$Subject <- as.character(o$Subject)
o$Sex <- as.character(o$Sex)
o$distance[seq(3, nrow(o), by = 5)] <- NA
w(o, "orthodont_missing.csv")
