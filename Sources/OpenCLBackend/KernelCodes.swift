import Engine

// The integer codes kernels switch on are defined here once and reach OpenCL C as build
// options (`-DACTIVATION_RELU=1 …`), so Kernels/ spells them by name and never by number.

extension Activation {
    /// The code `activate()` in Kernels/common.cl switches on (as ACTIVATION_<macroName>).
    var kernelCode: Int32 {
        switch self {
        case .identity: 0
        case .relu: 1
        case .leakyReLU: 2
        case .sigmoid: 3
        case .tanh: 4
        case .softplus: 5
        }
    }

    /// LeakyReLU's slope, passed beside the code (0 for the others).
    var kernelSlope: Float {
        if case .leakyReLU(let slope) = self { return slope }
        return 0
    }

    var macroName: String {
        switch self {
        case .identity: "IDENTITY"
        case .relu: "RELU"
        case .leakyReLU: "LEAKY_RELU"
        case .sigmoid: "SIGMOID"
        case .tanh: "TANH"
        case .softplus: "SOFTPLUS"
        }
    }
}

extension Likelihood {
    /// The code Kernels/loss.cl switches on (as LIKELIHOOD_<macroName>).
    var kernelCode: Int32 {
        switch self {
        case .bernoulli: 0
        case .gaussian: 1
        case .calibratedGaussian: 2
        case .calibratedGaussianPerFeature: 3
        case .gaussianPerFeature: 4
        }
    }

    /// σ of the fixed Gaussian, passed beside the code (1 for the others).
    var kernelSigma: Float {
        if case .gaussian(let sigma) = self { return sigma }
        return 1
    }

    var macroName: String {
        switch self {
        case .bernoulli: "BERNOULLI"
        case .gaussian: "GAUSSIAN"
        case .calibratedGaussian: "CALIBRATED"
        case .calibratedGaussianPerFeature: "CALIBRATED_PER_FEATURE"
        case .gaussianPerFeature: "GAUSSIAN_PER_FEATURE"
        }
    }

    static let all: [Likelihood] = [.bernoulli, .gaussian(sigma: 1), .calibratedGaussian, .calibratedGaussianPerFeature, .gaussianPerFeature]
}

enum KernelCodes {
    /// `-D` options defining every code, part of every build (and so of the binary cache key).
    static var buildOptions: String {
        (Activation.all.map { "-DACTIVATION_\($0.macroName)=\($0.kernelCode)" }
            + Likelihood.all.map { "-DLIKELIHOOD_\($0.macroName)=\($0.kernelCode)" }).joined(separator: " ")
    }
}
