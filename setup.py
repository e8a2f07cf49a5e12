"""Installs the YAMNet transfer-learning pipeline as a package.

Remote Beam workers and Kubeflow/Airflow containers import the project's code
from this package, so every module the pipeline runs lives in it.
"""

import setuptools

setuptools.setup(
    name='yamnet-audio-pipeline',
    version='0.1.0',
    description=('TFX pipeline: ESC-50 audio -> YAMNet embeddings -> sound '
                 'classifier served by TensorFlow Serving.'),
    python_requires='>=3.10,<3.11',
    packages=setuptools.find_packages(
        include=['data', 'data.*', 'yamnet', 'yamnet.*', 'serving',
                 'serving.*', 'models', 'models.*', 'components',
                 'components.*', 'pipeline', 'pipeline.*']),
    package_data={'pipeline': ['schema/*.pbtxt']},
    install_requires=[
        'tfx[kfp]==1.16.0',
        'tensorflow==2.16.2',
        'tensorflow-hub==0.16.1',
        'apache-beam[gcp]==2.59.0',
        'soundfile',
        'scipy',
        'google-crc32c',
    ],
    entry_points={
        'console_scripts': ['yamnet-pipeline = pipeline.cli:main'],
    },
)
