"""The image subsystem: the golden AMI, built by Packer + Ansible only when its inputs change.

Owns the component that builds or promotes the image (golden_image.py) and the content hash of
each layer's inputs (inputs.py), which image/build.py shares. Imports only `contracts/` and its
own modules.
"""
