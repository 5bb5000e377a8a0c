"""Installs tfp_nfvi: normalizing-flow variational inference for TensorFlow Probability."""

import pathlib

import setuptools

_HERE = pathlib.Path(__file__).parent
_VERSION = {}
exec((_HERE / "tfp_nfvi" / "version.py").read_text(), _VERSION)  # pylint: disable=exec-used

REQUIRED = [
    # Lower bounds are the versions this package is tested with.
    "tensorflow>=2.21",
    "tensorflow-probability>=0.25",
    "tf-keras>=2.21",  # Only because TFP imports it; our models are Keras 3.
    "keras>=3.15",
    "absl-py>=2.1",
    "numpy>=1.26",
    "matplotlib>=3.8",  # Figures written by the commands (Agg backend, no display).
    "tensorboard>=2.21",  # keras.callbacks.TensorBoard (tf.summary needs it to write logs).
]

EXTRAS = {
    "test": [
        "pytest>=8",
        "scipy>=1.11",
        "nbformat>=5.10",
        "nbclient>=0.10",
        "ipykernel>=6.29",
    ],
    "gpu": ["tensorflow[and-cuda]>=2.21"],
}

setuptools.setup(
    name="tfp_nfvi",
    version=_VERSION["__version__"],
    description="Normalizing-flow variational inference (planar, radial, MAF, IAF, RealNVP) "
    "for TensorFlow Probability and Keras 3.",
    long_description=(_HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache 2.0",
    python_requires=">=3.10",
    packages=setuptools.find_packages(include=["tfp_nfvi", "tfp_nfvi.*"]),
    package_data={"tfp_nfvi.data": ["*.npz"]},
    include_package_data=True,
    install_requires=REQUIRED,
    extras_require=EXTRAS,
    entry_points={
        "console_scripts": [
            "tfp-nfvi-train = tfp_nfvi.train:main",
            "tfp-nfvi-fit2d = tfp_nfvi.fit2d:main",
            "tfp-nfvi-cde = tfp_nfvi.cde:main",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "License :: OSI Approved :: Apache Software License",
    ],
)
