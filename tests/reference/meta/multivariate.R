# Reference values for multilevel/multivariate models (rma.mv) and what is computed from them:
# structured random effects (CS, HCS, UN, AR), a full sampling covariance V, crossed random
# effects, weights W, single-level factors, profile-likelihood CIs, likelihood-ratio tests,
# influence diagnostics, BLUPs and cluster-robust CR0/CR1/CR1p/CR2 inference.
#
# Source of truth: metafor 3.8-1 and clubSandwich 0.5.8 (Pustejovsky 2023). Data: metadat
# 1.2-0 dat.berkey1998 (Berkey et al. 1998, Stat Med 17(22)), dat.ishak2007 (Ishak et al.
# 2007, Clin Trials 4(5)), dat.konstantopoulos2011, dat.molloy2014 (GPL, with attribution;
# see data/README.md) and a simulated crossed-effects table written into the JSON.
# Optimisers run with tight tolerances so the pinned numbers are the optimum itself.
#
# Run: bash tests/reference/regenerate.sh meta   (writes multivariate.json next to this file)
suppressPackageStartupMessages({
    library(metafor)
    library(clubSandwich)
    library(jsonlite)
})

mvtight <- list(rel.tol = 1e-10, eval.max = 10000, iter.max = 10000)
# the 5-trial Berkey fits make nlminb report non-convergence below rel.tol = 1e-10
bktight <- list(rel.tol = 1e-10, eval.max = 10000, iter.max = 10000)
tight <- list(threshold = 1e-12, maxiter = 10000)
num <- function(x) unname(as.numeric(x))
opt <- function(x) if (is.null(x) || length(x) == 0 || all(is.na(x))) NULL else num(x)

fit_out <- function(fit) {
    fs <- fit$fit.stats
    out <- list(beta = num(fit$beta), se = num(fit$se), zval = num(fit$zval),
                pval = num(fit$pval), ci_lb = num(fit$ci.lb), ci_ub = num(fit$ci.ub),
                names = rownames(fit$beta), QE = fit$QE, QEp = fit$QEp, k = fit$k, p = fit$p,
                parms = fit$parms, ll_ML = fs["ll", "ML"], ll_REML = fs["ll", "REML"],
                dev_ML = fs["dev", "ML"], AIC = num(fs["AIC", ]), BIC = num(fs["BIC", ]),
                AICc = num(fs["AICc", ]), weights = num(weights(fit)))
    if (!is.null(fit$sigma2) && fit$withS) {
        out$sigma2 <- num(fit$sigma2)
        out$s_nlevels <- num(fit$s.nlevels)
    }
    if (fit$withG) {
        out$tau2 <- num(fit$tau2)
        out$rho <- num(fit$rho)
    }
    if (!fit$int.only) {
        out$QM <- fit$QM; out$QMp <- fit$QMp; out$QMdf <- num(fit$QMdf[!is.na(fit$QMdf)])
    }
    if (fit$int.only && !fit$withG) {
        pr <- predict(fit)
        out$pi_lb <- pr$pi.lb
        out$pi_ub <- pr$pi.ub
    }
    out
}

profile_out <- function(fit) {
    ci <- confint(fit, control = list(tol = 1e-12))
    if (!is.null(ci$random)) ci <- list(ci)
    rows <- list()
    for (part in ci) {
        if (!is.list(part) || is.null(part$random)) next
        r <- part$random
        for (nm in rownames(r)) rows[[nm]] <- num(r[nm, ])
    }
    rows
}

cases <- list()

## ---------------------------------------------------------------- Berkey (1998): UN, CS, HCS
bk <- dat.berkey1998
V_bk <- bldiag(lapply(split(bk[, c("v1i", "v2i")], bk$trial), as.matrix))
bk_data <- list(trial = bk$trial, outcome = as.character(bk$outcome), year = bk$year,
                yi = num(bk$yi), V = unname(V_bk))
for (s in c("UN", "CS", "HCS")) {
    f <- rma.mv(yi, V_bk, mods = ~ outcome - 1, random = ~ outcome | trial, struct = s,
                data = bk, control = bktight)
    cases[[paste0("berkey_", s)]] <- fit_out(f)
}
f <- rma.mv(yi, V_bk, mods = ~ outcome + outcome:I(year - 1983) - 1,
            random = ~ outcome | trial, struct = "UN", data = bk, control = bktight)
cases$berkey_UN_year <- fit_out(f)
f <- rma.mv(yi, V_bk, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "UN",
            data = bk, method = "ML", control = bktight)
cases$berkey_UN_ML <- fit_out(f)
cases$berkey_V_only <- fit_out(rma.mv(yi, V_bk, mods = ~ outcome - 1, data = bk))
bk_un <- rma.mv(yi, V_bk, mods = ~ outcome - 1, random = ~ outcome | trial, struct = "UN",
                data = bk, control = bktight)
re <- ranef(bk_un)[[1]]
cases$berkey_UN_ranef <- list(level = rownames(re), pred = num(re$intrcpt), se = num(re$se))

## ---------------------------------------------------------------- Ishak (2007): AR with V
ish <- dat.ishak2007
long <- reshape(ish, direction = "long", idvar = "study", v.names = c("yi", "vi"),
                varying = list(c(2, 4, 6, 8), c(3, 5, 7, 9)))
long <- long[!is.na(long$yi), ]
long <- long[order(long$study, long$time), ]
V_ish <- vcalc(vi, cluster = study, time1 = time, phi = 0.97, data = long)
ish_data <- list(study = as.character(long$study), time = num(long$time), yi = num(long$yi),
                 V = unname(as.matrix(V_ish)))
f <- rma.mv(yi, V_ish, mods = ~ factor(time) - 1, random = ~ time | study, struct = "AR",
            data = long, control = mvtight)
cases$ishak_AR <- c(fit_out(f), list(profile = profile_out(f)))

## ---------------------------------------------------------------- crossed random effects
set.seed(1)
sim <- expand.grid(study = 1:25, instrument = c("A", "B", "C", "D"))
sim <- sim[sample(nrow(sim), 70), ]
u <- rnorm(25, 0, 0.25)
w <- c(A = 0.15, B = -0.1, C = 0.05, D = -0.2)
sim$vi <- runif(nrow(sim), 0.01, 0.06)
sim$yi <- 0.3 + u[sim$study] + w[as.character(sim$instrument)] + rnorm(nrow(sim), 0, sqrt(sim$vi))
crossed_data <- list(study = num(sim$study), instrument = as.character(sim$instrument),
                     yi = num(sim$yi), vi = num(sim$vi))
f <- rma.mv(yi, vi, random = list(~ 1 | study, ~ 1 | instrument), data = sim, control = mvtight)
cases$crossed <- c(fit_out(f), list(profile = profile_out(f)))

## ---------------------------------------------------------------- three-level: Konstantopoulos
dk <- dat.konstantopoulos2011
k3 <- rma.mv(yi, vi, random = ~ 1 | district/school, data = dk, control = mvtight)
cases$konst_profile <- profile_out(k3)
cases$konst_weights <- fit_out(rma.mv(yi, vi, W = 1 / vi, random = ~ 1 | district/school,
                                      data = dk, control = mvtight))
dk$one <- 1
cases$konst_single_level <- fit_out(suppressWarnings(
    rma.mv(yi, vi, random = ~ 1 | one/district, data = dk, control = mvtight)))
k3r <- rma.mv(yi, vi, random = ~ 1 | district/school, sigma2 = c(0, NA), data = dk,
              control = mvtight)
cases$konst_fixed_sigma2 <- fit_out(k3r)
lrt_out <- function(a) list(LRT = a$LRT, pval = a$pval, parms_f = a$parms.f,
                            parms_r = a$parms.r, AIC_f = num(a$fit.stats.f["AIC"]),
                            AIC_r = num(a$fit.stats.r["AIC"]), BIC_f = num(a$fit.stats.f["BIC"]),
                            BIC_r = num(a$fit.stats.r["BIC"]), ll_f = num(a$fit.stats.f["ll"]),
                            ll_r = num(a$fit.stats.r["ll"]), R2 = opt(a$R2))
cases$konst_lrt_sigma2 <- lrt_out(anova(k3, k3r))
kf <- rma.mv(yi, vi, mods = ~ I(year - 1990), random = ~ 1 | district/school, data = dk,
             method = "ML", control = mvtight)
kn <- rma.mv(yi, vi, random = ~ 1 | district/school, data = dk, method = "ML",
             control = mvtight)
cases$konst_lrt_moderator_ML <- lrt_out(anova(kf, kn))
cases$konst_influence <- list(
    cook_d = num(cooks.distance(k3)), dfbetas = num(dfbetas(k3)$intrcpt),
    hat = num(hatvalues(k3)), rstudent = num(rstudent(k3)$z))
rs <- rstudent(k3, cluster = dk$district)
cases$konst_influence_district <- list(
    cluster = as.character(sort(unique(dk$district))),
    cook_d = num(cooks.distance(k3, cluster = dk$district)),
    dfbetas = num(dfbetas(k3, cluster = dk$district)$intrcpt),
    X2 = num(rs$cluster$X2), k = num(rs$cluster$k))
re <- ranef(k3)
cases$konst_ranef <- lapply(re, function(x) list(level = rownames(x), pred = num(x$intrcpt),
                                                 se = num(x$se), pi_lb = num(x$pi.lb),
                                                 pi_ub = num(x$pi.ub)))
names(cases$konst_ranef) <- c("district", "district/school")

## cluster-robust: clubSandwich with every adjustment
ky <- rma.mv(yi, vi, mods = ~ I(year - 1990), random = ~ 1 | district/school, data = dk,
             control = mvtight)
for (type in c("CR0", "CR1", "CR1p", "CR2")) {
    vc <- vcovCR(ky, cluster = dk$district, type = type)
    ct <- coef_test(ky, vcov = vc, test = "Satterthwaite")
    wt <- Wald_test(ky, constraints = constrain_zero(2), vcov = vc, test = "HTZ")
    cases[[paste0("konst_year_", type)]] <- list(
        type = type, beta = num(ct$beta), se = num(ct$SE), tstat = num(ct$tstat),
        df = num(ct$df_Satt), pval = num(ct$p_Satt), F = num(wt$Fstat),
        df_num = num(wt$df_num), df_denom = num(wt$df_denom), F_p = num(wt$p_val))
}

## ---------------------------------------------------------------- univariate: Molloy (2014)
mol <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
mr <- rma(yi, vi, data = mol, control = tight)
ci <- confint(mr, type = "PL", control = list(tol = 1e-12))
cases$molloy_PL <- list(tau2 = num(ci$random["tau^2", ]), tau = num(ci$random["tau", ]))
m0 <- rma(yi, vi, data = mol, tau2 = 0, control = tight)
cases$molloy_lrt_tau2 <- lrt_out(anova(mr, m0))
mf <- rma(yi, vi, mods = ~ meanage + quality, data = mol, method = "ML", control = tight)
mn <- rma(yi, vi, data = mol, method = "ML", control = tight)
cases$molloy_lrt_moderators_ML <- lrt_out(anova(mf, mn))
b <- blup(mr)
r <- ranef(mr)
cases$molloy_blup <- list(pred = num(b$pred), se = num(b$se), pi_lb = num(b$pi.lb),
                          pi_ub = num(b$pi.ub))
cases$molloy_ranef <- list(pred = num(r$pred), se = num(r$se), pi_lb = num(r$pi.lb),
                           pi_ub = num(r$pi.ub))

out <- list(
    versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
                    metadat = as.character(packageVersion("metadat")),
                    clubSandwich = as.character(packageVersion("clubSandwich"))),
    data = list(berkey = bk_data, ishak = ish_data, crossed = crossed_data),
    cases = cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                  pretty = TRUE), "multivariate.json")
cat("wrote multivariate.json with", length(cases), "cases\n")
