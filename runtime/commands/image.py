"""`dsc image build`: build the no-trust runtime image offline; `dsc image status`."""

from __future__ import annotations


from datastation.runtime.config import ConfigError

from . import common as cs


def register(sub) -> None:
    p = sub.add_parser("image", help="build the Docker image no-trust functions run in",
                       description="The runtime image is built offline (debootstrap + docker import), "
                                   "without any container registry.")
    isub = p.add_subparsers(dest="image_command", metavar="ACTION", required=True)
    b = isub.add_parser("build", help="build the runtime image (skipped when it is up to date)")
    b.add_argument("--force", action="store_true", help="rebuild even if an image with the same content exists")
    b.add_argument("--quiet", action="store_true", help="print only the image tag")
    cs.add_config(b)
    b.set_defaults(func=_build)
    s = isub.add_parser("status", help="show the image tag this machine needs and whether it exists")
    cs.add_config(s)
    s.set_defaults(func=_status)


def _configured_image(args) -> str | None:
    try:
        return cs.settings_from(args).docker.image
    except ConfigError as exc:
        raise SystemExit(cs.fail(exc)) from None


def _build(args) -> int:
    from datastation.runtime.executors.docker.image import ImageError, build_image

    name = _configured_image(args)
    log = (lambda *_: None) if args.quiet else (lambda msg: print(msg, flush=True))
    try:
        tag = build_image(force=args.force, log=log, also_tag=[name] if name else [])
    except ImageError as exc:
        cs.fail(f"cannot build the runtime image: {exc}")
        return 1
    print(tag if args.quiet else f"runtime image: {tag}" + (f" (also tagged {name})" if name else ""))
    return 0


def _status(args) -> int:
    from datastation.runtime.executors.docker.image import ImageError, image_exists, image_tag

    name = _configured_image(args)
    try:
        tag = image_tag()
    except ImageError as exc:
        cs.fail(exc)
        return 1
    have = image_exists(tag)
    print(f"needed: {tag} ({'present' if have else 'missing: run `dsc image build`'})")
    if name:
        print(f"configured: {name} ({'present' if image_exists(name) else 'missing'})")
    return 0 if have else 1
