//! `onnx-to-nnef IN.onnx SIZE OUT.nnef.tar`: reads an ONNX model (BlazeFace, the face mesh) made
//! grey by scripts/models, with its input fixed at 1 x SIZE x SIZE x 1 (f32), brings it to tract's
//! typed, decluttered form and writes it as an NNEF archive that `tract_nnef::nnef()` loads on its
//! own. Run by scripts/models.

use std::process::ExitCode;
use tract_onnx::prelude::*;
use tract_onnx::WithOnnx;

fn convert(input: &str, size: usize, output: &str) -> TractResult<()> {
    let model = tract_onnx::onnx()
        .model_for_path(input)?
        .with_input_fact(0, f32::fact([1, size, size, 1]).into())?
        .into_typed()?
        .into_decluttered()?;
    let mut archive = Vec::new();
    tract_nnef::nnef().with_onnx().write_to_tar(&model, &mut archive)?;
    write_reproducibly(&archive, output)?;
    // What Vigil will do: load it without the ONNX front end, generate code only (it is
    // decluttered already), and run it.
    let mut reloaded = tract_nnef::nnef().model_for_path(output)?;
    reloaded.optimize()?;
    let plan = reloaded.into_runnable()?;
    plan.run(tvec!(Tensor::zero::<f32>(&[1, size, size, 1])?.into_tvalue()))?;
    Ok(())
}

/// Copies the tar `archive` to `output` with every entry's time set to 0 (the epoch): the same
/// model gives the same bytes, and so the same SHA-256, on every run.
fn write_reproducibly(archive: &[u8], output: &str) -> std::io::Result<()> {
    let mut out = tar::Builder::new(std::fs::File::create(output)?);
    for entry in tar::Archive::new(archive).entries()? {
        let mut entry = entry?;
        let mut header = entry.header().clone();
        header.set_mtime(0);
        header.set_cksum();
        out.append(&header, &mut entry)?;
    }
    out.into_inner()?.sync_all()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, size, output] = args.as_slice() else {
        eprintln!("usage: onnx-to-nnef IN.onnx SIZE OUT.nnef.tar");
        return ExitCode::from(2);
    };
    let Ok(size) = size.parse::<usize>() else {
        eprintln!("SIZE must be a number of pixels, not {size:?}");
        return ExitCode::from(2);
    };
    match convert(input, size, output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{input}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
