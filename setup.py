#!/usr/bin/env python
"""Packaging of the `appnet` Azure CLI extension (wheel: appnet-<version>-py3-none-any.whl)."""

from setuptools import find_packages, setup

VERSION = "1.0.0b1"

CLASSIFIERS = [
    "Development Status :: 4 - Beta",
    "Intended Audience :: Developers",
    "Intended Audience :: System Administrators",
    "Programming Language :: Python",
    "Programming Language :: Python :: 3",
    "Programming Language :: Python :: 3.10",
    "Programming Language :: Python :: 3.11",
    "Programming Language :: Python :: 3.12",
    "Programming Language :: Python :: 3.13",
    "License :: OSI Approved :: MIT License",
]

# Only what azure-cli does not bring: az already ships cryptography, PyYAML (via knack),
# azure-identity and the azure-keyvault SDKs, and a second copy installed by
# `az extension add` could shadow them.
DEPENDENCIES = ["kubernetes>=29.0.0,<38"]

with open("README.md", "r", encoding="utf-8") as f:
    README = f.read()
with open("HISTORY.rst", "r", encoding="utf-8") as f:
    HISTORY = f.read()

setup(
    name="appnet",
    version=VERSION,
    description="Azure Kubernetes Application Network on your own clusters: a shared root CA "
                "and an Istio ambient mesh across Kubernetes clusters.",
    long_description=README + "\n\n" + HISTORY,
    long_description_content_type="text/markdown",
    license="MIT",
    author="appnet developers",
    url="https://example.invalid/appnet",
    classifiers=CLASSIFIERS,
    packages=find_packages(include=["azext_appnet", "azext_appnet.*"]),
    install_requires=DEPENDENCIES,
    package_data={"azext_appnet": ["azext_metadata.json", "versions/*.json"]},
    python_requires=">=3.10",
)
