import Engine
import COpenCL

/// Launchers of Kernels/loss.cl, and the ops they make up: the fused VAE loss (per-pixel
/// terms, per-example sums, the batch total), its gradient (per pixel, per latent element), and
/// both at once.
extension OpenCLBackend {
    /// terms[B, 2] = (reconstruction, KL) per example and total[1] their β-weighted batch mean;
    /// `z` is read only by the Monte-Carlo KL, `variances` [D] only by `.gaussianPerFeature`.
    func vaeLoss(_ o: VAEObjective, terms: CLBuffer, total: CLBuffer, x: CLBuffer, decoded: CLBuffer, mean: CLBuffer,
                 logVariance: CLBuffer, z: CLBuffer?, variances: CLBuffer?, batch: Int, dataSize: Int, latentSize: Int) throws {
        if o.likelihood == .bernoulli {
            try vae_loss_rows_bernoulli(terms: terms, x: x, decoded: decoded, mean: mean, logVariance: logVariance, z: z,
                                        batch: batch, dataSize: dataSize, latentSize: latentSize)
            return try vae_loss_total(total: total, terms: terms, batch: batch, dataSize: dataSize, o.likelihood, beta: o.beta)
        }
        let pixels = try scratchBuffer(bytes: batch * dataSize * 4)
        let featureVariances = try featureVariances(o.likelihood, given: variances, x: x, decoded: decoded, batch: batch, dataSize: dataSize)
        try vaeLossPixels(pixels: pixels, x: x, decoded: decoded, variances: featureVariances, n: batch * dataSize, dataSize: dataSize,
                          o.likelihood)
        try vae_loss_terms(terms: terms, pixels: pixels, mean: mean, logVariance: logVariance, z: z,
                           batch: batch, dataSize: dataSize, latentSize: latentSize)
        try vae_loss_total(total: total, terms: terms, batch: batch, dataSize: dataSize, o.likelihood, beta: o.beta)
    }

    /// d decoded, d μ, d log σ² (and dz for the Monte-Carlo KL) from the loss's upstream d_loss[1].
    func vaeLossGradient(_ o: VAEObjective, dDecoded: CLBuffer, dMean: CLBuffer, dLogVariance: CLBuffer, dz: CLBuffer?,
                         x: CLBuffer, decoded: CLBuffer, mean: CLBuffer, logVariance: CLBuffer, z: CLBuffer?, variances: CLBuffer?,
                         dLoss: CLBuffer, batch: Int, dataSize: Int, latentSize: Int) throws {
        var stats = x  // read only by the calibrated Gaussians and the given variances
        if let featureVariances = try featureVariances(o.likelihood, given: variances, x: x, decoded: decoded, batch: batch, dataSize: dataSize) {
            stats = featureVariances
        } else if o.likelihood == .calibratedGaussian {
            stats = try scratchBuffer(bytes: (batch + 1) * 4)
            try squared_error_rows(out: stats, x: x, decoded: decoded, batch: batch, dataSize: dataSize)
            try calibrated_variance(stats: stats, batch: batch, dataSize: dataSize)
        }
        if o.likelihood == .bernoulli {
            try vae_loss_gradient_bernoulli(dDecoded: dDecoded, x: x, decoded: decoded, dLoss: dLoss, n: batch * dataSize, batch: batch)
        } else {
            try vae_loss_gradient_pixels(dDecoded: dDecoded, x: x, decoded: decoded, dLoss: dLoss, stats: stats, varianceIndex: batch,
                                         n: batch * dataSize, batch: batch, dataSize: dataSize, o.likelihood)
        }
        try vae_loss_gradient_latents(dMean: dMean, dLogVariance: dLogVariance, dz: dz, mean: mean, logVariance: logVariance, z: z,
                                      dLoss: dLoss, n: batch * latentSize, batch: batch, beta: o.beta)
    }

    /// `vaeLoss` and `vaeLossGradient` in one: for the Bernoulli likelihood the loss rows and
    /// d decoded in one pass (`vae_loss_rows_bernoulli_gradient`), else the two in turn.
    func vaeLossWithGradient(_ o: VAEObjective, terms: CLBuffer, total: CLBuffer, dDecoded: CLBuffer, dMean: CLBuffer, dLogVariance: CLBuffer,
                             dz: CLBuffer?, x: CLBuffer, decoded: CLBuffer, mean: CLBuffer, logVariance: CLBuffer, z: CLBuffer?,
                             variances: CLBuffer?, dLoss: CLBuffer, batch: Int, dataSize: Int, latentSize: Int) throws {
        guard o.likelihood == .bernoulli else {
            try vaeLoss(o, terms: terms, total: total, x: x, decoded: decoded, mean: mean, logVariance: logVariance, z: z, variances: variances,
                        batch: batch, dataSize: dataSize, latentSize: latentSize)
            return try vaeLossGradient(o, dDecoded: dDecoded, dMean: dMean, dLogVariance: dLogVariance, dz: dz, x: x, decoded: decoded,
                                       mean: mean, logVariance: logVariance, z: z, variances: variances, dLoss: dLoss,
                                       batch: batch, dataSize: dataSize, latentSize: latentSize)
        }
        try vae_loss_rows_bernoulli_gradient(terms: terms, dDecoded: dDecoded, x: x, decoded: decoded, mean: mean, logVariance: logVariance,
                                             z: z, dLoss: dLoss, batch: batch, dataSize: dataSize, latentSize: latentSize)
        try vae_loss_total(total: total, terms: terms, batch: batch, dataSize: dataSize, o.likelihood, beta: o.beta)
        try vae_loss_gradient_latents(dMean: dMean, dLogVariance: dLogVariance, dz: dz, mean: mean, logVariance: logVariance, z: z,
                                      dLoss: dLoss, n: batch * latentSize, batch: batch, beta: o.beta)
    }

    /// σ²_j per feature: the given buffer, or the batch's (`.calibratedGaussianPerFeature`, in
    /// scratch slot 1); nil for the likelihoods with one σ².
    func featureVariances(_ likelihood: Likelihood, given: CLBuffer?, x: CLBuffer, decoded: CLBuffer,
                          batch: Int, dataSize: Int) throws -> CLBuffer? {
        if likelihood == .gaussianPerFeature { return given }
        guard likelihood == .calibratedGaussianPerFeature else { return nil }
        let variances = try scratchBuffer(slot: 1, bytes: dataSize * 4)
        try calibrated_feature_variances(variances: variances, x: x, decoded: decoded, batch: batch, dataSize: dataSize)
        return variances
    }

    /// pixels[i] = −log p(x_i | decoded_i) (the squared error for the calibrated Gaussian), by
    /// the kernel of that likelihood; `variances` [D] are those of the per-feature Gaussians.
    /// Not for the Bernoulli likelihood, whose pixels are summed as they are computed.
    func vaeLossPixels(pixels: CLBuffer, x: CLBuffer, decoded: CLBuffer, variances: CLBuffer?, n: Int, dataSize: Int,
                       _ likelihood: Likelihood) throws(OpenCLError) {
        if let variances {
            return try vae_loss_pixels_feature_variance(pixels: pixels, x: x, decoded: decoded, variances: variances, n: n, dataSize: dataSize)
        }
        switch likelihood {
        case .gaussian(let sigma): try vae_loss_pixels_gaussian(pixels: pixels, x: x, decoded: decoded, n: n, sigma: sigma)
        case .calibratedGaussian: try vae_loss_pixels_calibrated(pixels: pixels, x: x, decoded: decoded, n: n)
        case .bernoulli, .calibratedGaussianPerFeature, .gaussianPerFeature:  // Bernoulli: vae_loss_rows_bernoulli
            throw .call("vaeLossPixels: the \(likelihood) likelihood without its variances [\(dataSize)]", CL_INVALID_ARG_VALUE)
        }
    }

    /// terms[b] = (Σ over the pixels of the Bernoulli −log p, KL) of each example b, in one pass
    /// per example row (the Monte-Carlo KL when z is given).
    func vae_loss_rows_bernoulli(terms: CLBuffer, x: CLBuffer, decoded: CLBuffer, mean: CLBuffer, logVariance: CLBuffer, z: CLBuffer?,
                                 batch: Int, dataSize: Int, latentSize: Int) throws(OpenCLError) {
        try enqueue(.vae_loss_rows_bernoulli, [.buffer(terms), .buffer(x), .buffer(decoded), .buffer(mean), .buffer(logVariance), .buffer(z ?? mean)]
                    + (try ints("vaeLoss", [batch, dataSize, latentSize])) + [.int(z == nil ? 0 : 1)],
                    global: [batch], local: loopingGroup(items: batch))
    }

    /// `vae_loss_rows_bernoulli` that also writes d decoded = d_loss/B · (σ(decoded) − x).
    func vae_loss_rows_bernoulli_gradient(terms: CLBuffer, dDecoded: CLBuffer, x: CLBuffer, decoded: CLBuffer, mean: CLBuffer,
                                          logVariance: CLBuffer, z: CLBuffer?, dLoss: CLBuffer, batch: Int, dataSize: Int,
                                          latentSize: Int) throws(OpenCLError) {
        try enqueue(.vae_loss_rows_bernoulli_gradient, [.buffer(terms), .buffer(dDecoded), .buffer(x), .buffer(decoded), .buffer(mean),
                                                        .buffer(logVariance), .buffer(z ?? mean), .buffer(dLoss)]
                    + (try ints("vaeLoss", [batch, dataSize, latentSize])) + [.int(z == nil ? 0 : 1)],
                    global: [batch], local: loopingGroup(items: batch))
    }

    func vae_loss_pixels_gaussian(pixels: CLBuffer, x: CLBuffer, decoded: CLBuffer, n: Int, sigma: Float) throws(OpenCLError) {
        try enqueue(.vae_loss_pixels_gaussian, [.buffer(pixels), .buffer(x), .buffer(decoded), try int(n, "pixels"), .float(sigma)],
                    global: [n], local: [tiles.local1D])
    }

    func vae_loss_pixels_calibrated(pixels: CLBuffer, x: CLBuffer, decoded: CLBuffer, n: Int) throws(OpenCLError) {
        try enqueue(.vae_loss_pixels_calibrated, [.buffer(pixels), .buffer(x), .buffer(decoded), try int(n, "pixels"), .float(1)],
                    global: [n], local: [tiles.local1D])
    }

    /// pixels[i] = −log p(x_i | decoded_i) with σ² = variances[i mod D].
    func vae_loss_pixels_feature_variance(pixels: CLBuffer, x: CLBuffer, decoded: CLBuffer, variances: CLBuffer,
                                          n: Int, dataSize: Int) throws(OpenCLError) {
        try enqueue(.vae_loss_pixels_feature_variance, [.buffer(pixels), .buffer(x), .buffer(decoded), .buffer(variances)]
                    + (try ints("vaeLoss", [n, dataSize])), global: [n], local: [tiles.local1D])
    }

    /// variances[j] = the batch's mean squared error of feature j (at least 1e-6).
    func calibrated_feature_variances(variances: CLBuffer, x: CLBuffer, decoded: CLBuffer, batch: Int, dataSize: Int) throws(OpenCLError) {
        try enqueue(.calibrated_feature_variances, [.buffer(variances), .buffer(x), .buffer(decoded)]
                    + (try ints("vaeLoss", [batch, dataSize])), global: [dataSize], local: loopingGroup(items: dataSize))
    }

    /// terms[b] = (Σ pixels of example b, KL_b), one work-item per example.
    func vae_loss_terms(terms: CLBuffer, pixels: CLBuffer, mean: CLBuffer, logVariance: CLBuffer, z: CLBuffer?,
                        batch: Int, dataSize: Int, latentSize: Int) throws(OpenCLError) {
        try enqueue(.vae_loss_terms, [.buffer(terms), .buffer(pixels), .buffer(mean), .buffer(logVariance), .buffer(z ?? mean)]
                    + (try ints("vaeLoss", [batch, dataSize, latentSize])) + [.int(z == nil ? 0 : 1)],
                    global: [batch], local: loopingGroup(items: batch))
    }

    /// total[0] = the batch mean of reconstruction + β·KL (terms rescaled first for the calibrated Gaussian).
    func vae_loss_total(total: CLBuffer, terms: CLBuffer, batch: Int, dataSize: Int, _ likelihood: Likelihood,
                        beta: Float) throws(OpenCLError) {
        try enqueue(.vae_loss_total, [.buffer(total), .buffer(terms)] + (try ints("vaeLoss", [batch, dataSize]))
                    + [.int(likelihood.kernelCode), .float(beta)], global: [1], local: [1])
    }

    /// out[b] = ‖x_b − decoded_b‖² per example.
    func squared_error_rows(out: CLBuffer, x: CLBuffer, decoded: CLBuffer, batch: Int, dataSize: Int) throws(OpenCLError) {
        try enqueue(.squared_error_rows, [.buffer(out), .buffer(x), .buffer(decoded)] + (try ints("vaeLossGradient", [batch, dataSize])),
                    global: [batch], local: loopingGroup(items: batch))
    }

    /// stats[batch] = the calibrated σ² from the per-example errors in stats[0 ..< batch].
    func calibrated_variance(stats: CLBuffer, batch: Int, dataSize: Int) throws(OpenCLError) {
        try enqueue(.calibrated_variance, [.buffer(stats)] + (try ints("vaeLossGradient", [batch, dataSize])), global: [1], local: [1])
    }

    /// d decoded[i] = d_loss/B · ∂(−log p)/∂ decoded_i.
    func vae_loss_gradient_pixels(dDecoded: CLBuffer, x: CLBuffer, decoded: CLBuffer, dLoss: CLBuffer, stats: CLBuffer, varianceIndex: Int,
                                  n: Int, batch: Int, dataSize: Int, _ likelihood: Likelihood) throws(OpenCLError) {
        try enqueue(.vae_loss_gradient_pixels, [.buffer(dDecoded), .buffer(x), .buffer(decoded), .buffer(dLoss), .buffer(stats)]
                    + (try ints("vaeLossGradient", [varianceIndex, n, batch, dataSize])) + [.int(likelihood.kernelCode), .float(likelihood.kernelSigma)],
                    global: [n], local: [tiles.local1D])
    }

    /// d decoded[i] = d_loss/B · (σ(decoded_i) − x_i): the Bernoulli case, vectorizable on CPU devices.
    func vae_loss_gradient_bernoulli(dDecoded: CLBuffer, x: CLBuffer, decoded: CLBuffer, dLoss: CLBuffer, n: Int, batch: Int) throws(OpenCLError) {
        try enqueue(.vae_loss_gradient_bernoulli, [.buffer(dDecoded), .buffer(x), .buffer(decoded), .buffer(dLoss)]
                    + (try ints("vaeLossGradient", [n, batch])), global: [(n + tiles.registerWidth - 1) / tiles.registerWidth],
                    local: [tiles.local1D])
    }

    /// d μ, d log σ² (and dz when z is given: the Monte-Carlo KL) of β·KL over n latent elements.
    func vae_loss_gradient_latents(dMean: CLBuffer, dLogVariance: CLBuffer, dz: CLBuffer?, mean: CLBuffer, logVariance: CLBuffer,
                                   z: CLBuffer?, dLoss: CLBuffer, n: Int, batch: Int, beta: Float) throws(OpenCLError) {
        let mc = z != nil && dz != nil
        try enqueue(.vae_loss_gradient_latents, [.buffer(dMean), .buffer(dLogVariance), .buffer(dz ?? dMean), .buffer(mean),
                                                 .buffer(logVariance), .buffer(z ?? mean), .buffer(dLoss)]
                    + (try ints("vaeLossGradient", [n, batch])) + [.float(beta), .int(mc ? 1 : 0)],
                    global: [n], local: [tiles.local1D])
    }
}
