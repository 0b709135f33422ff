"""robomem: an embodied robot memory stack (ROS 2 ament_python package + pure-Python core).

The simulation harness lives in the top-level ``sim/`` folder and is installed as ``robomem_sim``.
"""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "robomem"

sim_packages = ["robomem_sim"] + [
    "robomem_sim." + p for p in find_packages(where="sim")
]

setup(
    name=PACKAGE,
    version="0.1.0",
    description="Dynamic spatio-semantic robot memory with a temporal scene graph, FAISS retrieval, "
    "ROS 2 services and a FindingDory-style simulation harness",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["robomem", "robomem.*"]) + sim_packages,
    package_dir={"robomem_sim": "sim"},
    package_data={"robomem": ["py.typed", "planner/data/*.yaml"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE]),
        ("share/" + PACKAGE, ["package.xml"]),
        ("share/" + PACKAGE + "/launch", glob("launch/*.py")),
        ("share/" + PACKAGE + "/config", glob("config/*.yaml")),
    ],
    install_requires=["numpy", "pyyaml", "networkx"],
    zip_safe=False,
    entry_points={
        "console_scripts": [
            "robomem = robomem.cli:main",
            "robomem-eval = robomem_sim.runner:main",
            "robomem-ingest-node = robomem.ros.entry:ingest_node",
            "robomem-memory-server = robomem.ros.entry:memory_server",
            "robomem-planner-node = robomem.ros.planner_node:main",
            "robomem-replay = robomem.ros.replay:main",
        ],
    },
)
